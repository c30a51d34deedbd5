from msc_sle_crf.cli import main

raise SystemExit(main())
