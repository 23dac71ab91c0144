from services.generator.main import main

raise SystemExit(main())
