"""The value types every layer shares: the storyboard and its settings, plan limits, and the
text helpers they need. The bottom layer: it imports nothing of reelforge but `errors`."""
