"""`thrifty eval cache`: the semantic cache measured on labelled query pairs."""
