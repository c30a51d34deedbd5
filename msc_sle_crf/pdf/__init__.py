"""PDF case report forms (reportlab) and their digital signature (pyHanko, PAdES baseline B-B) with the site's
certificate. No Qt: the CLI and the background printing job use the same code."""
