"""Entity linking: text and media connect themselves to the graph's entities.

Text: mention detection (spaCy NER plus a gazetteer of the graph's names and aliases),
candidates (alias table, Neo4j full-text index, entity text vectors), a learned disambiguator
(alias prior, context, type, search scores, then graph coherence over the document) and a
calibrated NIL threshold. Images: an ImageNet classifier whose classes are WordNet synsets.
"""
