from fraudlake.cli import run

run()
