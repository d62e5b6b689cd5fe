"""What a grading run writes: results (:mod:`.results`), ``grades.csv`` and ``report.json``
(:mod:`.reports`), feedback pages (:mod:`.feedback`), plots (:mod:`.plots`), ``summary.html``
(:mod:`.summary`), and the progress bar on the console (:mod:`.progress`)."""
