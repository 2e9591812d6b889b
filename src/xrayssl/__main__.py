from xrayssl.cli import main

main()
