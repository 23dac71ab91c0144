from services.aggregator.main import main

raise SystemExit(main())
