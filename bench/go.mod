module github.com/cellar-http/cellar/bench

go 1.26.0

require (
	github.com/cellar-http/cellar v0.0.0
	github.com/gregjones/httpcache v0.0.0-20190611155906-901d90724c79
	github.com/pquerna/cachecontrol v0.2.0
)

require (
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace github.com/cellar-http/cellar => ../
