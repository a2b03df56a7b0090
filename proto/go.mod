module github.com/catalog-discovery/bitbucket/proto

go 1.26.8
