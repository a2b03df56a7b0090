module github.com/catalog-discovery/bitbucket/controlplane

go 1.26.8
