"""Competition data: layouts, image decoding, the decoded-image cache and the digits generator."""
