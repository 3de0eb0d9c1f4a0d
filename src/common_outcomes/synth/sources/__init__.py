"""One module per partner source; each turns an LA's residents into that partner's records."""
