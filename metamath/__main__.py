from metamath.cli import main

main()
