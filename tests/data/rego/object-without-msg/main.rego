package main

import rego.v1

deny contains {"message": "wrong key"} if input.kind == "Pod"
