"""Knowledge-aware recommendation: users' interactions plus the items' facts and media
(:mod:`.model`), fitted from and served through the graph (:mod:`.graph`)."""
