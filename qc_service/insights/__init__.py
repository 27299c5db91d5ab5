"""Manager insights over stored conversations: ``GET /v1/insights/keywords`` (hot words per
team, TF-IDF over the team's messages in a period, segmented with the tenant's lexicon words as
jieba's domain dictionary)."""
