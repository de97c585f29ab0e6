from tangpoet.cli import main

main()
