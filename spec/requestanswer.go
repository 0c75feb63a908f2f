package spec

import "net/http"

// reasonAnswersRequestField: the response is the origin's verdict on a
// request field that is not part of the key.
func reasonAnswersRequestField(status int) Reason {
	switch status {
	case http.StatusPreconditionFailed:
		return reason(ReasonAnswersRequestField, "RFC 9110 §15.5.13",
			"a 412 says that the request's own preconditions (If-Match, If-Unmodified-Since, If-None-Match) evaluated to false; "+
				"they are not part of the key (RFC 9111 §2), so it must not be served to requests without them")
	case http.StatusRequestedRangeNotSatisfiable:
		return reason(ReasonAnswersRequestField, "RFC 9110 §15.5.17",
			"a 416 rejects the request's own Range, which is not part of the key (RFC 9111 §2), so it must not be served to requests without it")
	}
	return reason(ReasonAnswersRequestField, "RFC 9110 §15.5.18",
		"a 417 rejects the request's own Expect, which is not part of the key (RFC 9111 §2), so it must not be served to requests without it")
}

// answersRequestField reports whether resp's status is the origin's answer
// to a field of req that the key leaves out: 412 to a precondition (RFC
// 9110 §13.1, §15.5.13), 416 to a Range (§14.2, §15.5.17), 417 to an Expect
// (§10.1.1, §15.5.18). Like a 304 to the client's own conditional (RFC 9111
// §4.3.2), such a response says nothing about the resource a request
// without that field would get. Stored, with the explicit freshness an
// origin may put on every response, it would be served to every client:
// one request with "If-Match: x" (or "Range: bytes=999999-", or "Expect:
// 100-continue" to an origin that refuses expectations) would deny the
// page to all until it expires (cache-poisoned denial of service, RFC 9111
// §7.1).
func answersRequestField(req *Request, status int) bool {
	h := req.Header
	switch status {
	case http.StatusPreconditionFailed:
		return len(h["If-Match"]) > 0 || len(h["If-Unmodified-Since"]) > 0 || len(h["If-None-Match"]) > 0
	case http.StatusRequestedRangeNotSatisfiable:
		return len(h["Range"]) > 0
	case http.StatusExpectationFailed:
		return len(h["Expect"]) > 0
	}
	return false
}
