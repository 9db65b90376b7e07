"""The online feature store on Redis: what the stream writes, what scoring reads."""
