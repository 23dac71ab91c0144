from services.evaluator.main import main

if __name__ == "__main__":  # vLLM's engine starts worker processes with spawn, which re-imports __main__
    raise SystemExit(main())
