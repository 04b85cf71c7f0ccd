print("anycastd")
