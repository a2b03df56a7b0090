module github.com/catalog-discovery/bitbucket/delegate

go 1.26.8
