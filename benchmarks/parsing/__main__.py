from benchmarks.parsing.run import main

raise SystemExit(main())
