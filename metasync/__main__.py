from metasync.cli import main

main()
