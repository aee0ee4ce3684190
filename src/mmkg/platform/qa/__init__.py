"""Question answering over the multimodal graph: entity linking, relation detection by
paraphrase similarity, answers from the graph's facts first and by link prediction otherwise,
with evidence paths and media (:mod:`mmkg.platform.qa.answer`)."""
