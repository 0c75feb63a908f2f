package spec

// State is any state of the machine. StateName is its name ("CacheMiss",
// "FromCache", ...), which engines record in their decision traces.
type State interface {
	StateName() string
}

// IdleNext is what may follow IdleClient.
//
//sumtype:decl
type IdleNext interface {
	State
	idleNext()
}

// PartialNext is what may follow PartialUpdate.
//
//sumtype:decl
type PartialNext interface {
	State
	partialNext()
}

// MissNext is what may follow CacheMiss.
//
//sumtype:decl
type MissNext interface {
	State
	missNext()
}

// RevalidationNext is what may follow NeedRevalidation.
//
//sumtype:decl
type RevalidationNext interface {
	State
	revalidationNext()
}

func (CacheMiss) idleNext()         {}
func (PartialUpdate) idleNext()     {}
func (FromCache) idleNext()         {}
func (NeedRevalidation) idleNext()  {}
func (InvalidateEntries) idleNext() {}

func (CacheMiss) partialNext()        {}
func (FromCache) partialNext()        {}
func (NeedRevalidation) partialNext() {}

func (StoreAndUse) missNext()      {}
func (CouldNotBeStored) missNext() {}

func (NeedToBeUpdated) revalidationNext() {}
func (CacheMiss) revalidationNext()       {}

// StateName implements State.
func (IdleClient) StateName() string { return "IdleClient" }

// StateName implements State.
func (CacheMiss) StateName() string { return "CacheMiss" }

// StateName implements State.
func (PartialUpdate) StateName() string { return "PartialUpdate" }

// StateName implements State.
func (FromCache) StateName() string { return "FromCache" }

// StateName implements State.
func (NeedRevalidation) StateName() string { return "NeedRevalidation" }

// StateName implements State.
func (InvalidateEntries) StateName() string { return "InvalidateEntries" }

// StateName implements State.
func (StoreAndUse) StateName() string { return "StoreAndUse" }

// StateName implements State.
func (CouldNotBeStored) StateName() string { return "CouldNotBeStored" }

// StateName implements State.
func (NeedToBeUpdated) StateName() string { return "NeedToBeUpdated" }
