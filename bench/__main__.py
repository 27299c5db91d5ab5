"""``make bench``: every benchmark, each printing its own ratios."""

from bench import keyword_stage

if __name__ == "__main__":
    keyword_stage.run()
