"""The provider's Batch API (half price, results within a window): input files, the journal of
batches created, and the driver that submits, polls and collects them into the store."""
