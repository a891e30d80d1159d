"""The store on PostgreSQL: summaries computed in the database, batches ingested by COPY, window
averages fetched on the event loop."""
