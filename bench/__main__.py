"""``make bench``: every benchmark, each printing its own ratios against same-run baselines."""

from bench import (
    asr_stage,
    audio_stage,
    auth_cost,
    dashboard,
    keyword_stage,
    lanes,
    lanes_semantic,
    nlp_stage,
    rule_stage,
    segments,
    web_pages,
)

if __name__ == "__main__":
    keyword_stage.run()
    rule_stage.run()
    audio_stage.run()
    nlp_stage.run()
    lanes.run()
    lanes_semantic.run_semantic()
    auth_cost.run()
    web_pages.run()
    dashboard.run()
    asr_stage.run()
    segments.run()
