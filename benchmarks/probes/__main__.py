from benchmarks.probes.run import main

raise SystemExit(main())
