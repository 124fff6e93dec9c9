from fdr.cli import main

raise SystemExit(main())
