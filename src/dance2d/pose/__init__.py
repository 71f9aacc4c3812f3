"""Poses: layouts, conversions, PoseSequence with npz / OpenPose JSON IO, one-hot images."""

from dance2d.pose.layouts import LAYOUTS, Layout, get_layout
from dance2d.pose.sequence import PoseSequence, as_layout

__all__ = ["LAYOUTS", "Layout", "PoseSequence", "as_layout", "get_layout"]
