package proxy

// idleList holds the Listener's idle connections, longest idle first, in a
// list threaded through the conns themselves: a keep-alive connection goes
// idle after every request, and container/list allocated an element each
// time.
type idleList struct {
	front, back *conn
	n           int
}

// pushBack appends c, which must not be in the list.
func (q *idleList) pushBack(c *conn) {
	c.idlePrev, c.idleNext, c.idle = q.back, nil, true
	if q.back != nil {
		q.back.idleNext = c
	} else {
		q.front = c
	}
	q.back = c
	q.n++
}

// remove takes c out of the list, if it is in it.
func (q *idleList) remove(c *conn) {
	if !c.idle {
		return
	}
	if c.idlePrev != nil {
		c.idlePrev.idleNext = c.idleNext
	} else {
		q.front = c.idleNext
	}
	if c.idleNext != nil {
		c.idleNext.idlePrev = c.idlePrev
	} else {
		q.back = c.idlePrev
	}
	c.idlePrev, c.idleNext, c.idle = nil, nil, false
	q.n--
}
