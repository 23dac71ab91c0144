from services.trainer.main import main

raise SystemExit(main())
