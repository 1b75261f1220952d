from backend_manager_gui.cli import main

raise SystemExit(main())
