from voxcall.cli import main

main()
