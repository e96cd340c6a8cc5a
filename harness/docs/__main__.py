from harness.docs import main

raise SystemExit(main())
