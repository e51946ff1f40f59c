from benchmarks.threads.run import main

raise SystemExit(main())
