"""scripts/eval_models.py: the tables in docs/RESULTS.md come from its Markdown rows, not typed by hand."""

from conftest import load_script


def test_markdown_rows_give_mean_spread_and_each_seed():
    em = load_script("scripts/eval_models.py")
    per_seed = [{"m": {"FID_k": 70.0, "FID_k_win": 30.0, "DIV_k": 8.0, "BAS_music_to_motion": 0.5,
                       "median_step": 0.02, "facing_width": 0.6}},
                {"m": {"FID_k": 74.0, "FID_k_win": 34.0, "DIV_k": 9.0, "BAS_music_to_motion": 0.5,
                       "median_step": 0.021, "facing_width": 0.7}}]
    header, rule, row = em.markdown_rows(em.aggregate(per_seed), per_seed).splitlines()
    assert header.startswith("| label | FID_k | FID_k_win |") and rule.count("---") == 7
    assert row == "| m | 72.0 ± 2.0 (70.0 / 74.0) | 32.0 ± 2.0 | 8.50 | 0.500 | 0.0205 | 0.650 |"
    single = em.markdown_rows(per_seed[0], per_seed[:1]).splitlines()[2]
    assert single.startswith("| m | 70.0 | 30.0 | 8.00 |")  # one seed: no spread to give
    same = [{"gt": {"FID_k": 25.25}}, {"gt": {"FID_k": 25.25}}]
    assert em.markdown_rows(em.aggregate(same), same).splitlines()[2].startswith("| gt | 25.2 | nan |")
