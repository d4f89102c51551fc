from cohesion.cli import main

main()
