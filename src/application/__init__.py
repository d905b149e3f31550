"""Use cases of ScoreMate and the ports (typing.Protocol) they need. Imports the domain only."""
