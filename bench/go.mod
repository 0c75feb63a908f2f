module github.com/cellar-http/cellar/bench

go 1.26.0

require (
	github.com/cellar-http/cellar v0.0.0
	github.com/pquerna/cachecontrol v0.2.0
)

replace github.com/cellar-http/cellar => ../
