from outbound.cli import main

main()
