from tangpoet.cli import run

run()
