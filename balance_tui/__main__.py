from balance_tui.cli import main

raise SystemExit(main())
