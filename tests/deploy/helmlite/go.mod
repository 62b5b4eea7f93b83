module helmlite

go 1.19
