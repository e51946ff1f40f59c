from benchmarks.core.run import main

raise SystemExit(main())
