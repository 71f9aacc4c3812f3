"""OpenPose-style skeleton rendering: frames, videos with the music, preview strips."""

from dance2d.render.skeleton import RenderStyle, draw_frame, overlay, write_overlay
from dance2d.render.video import preview_strip, render_poses, write_video

__all__ = ["RenderStyle", "draw_frame", "overlay", "preview_strip", "render_poses", "write_overlay", "write_video"]
