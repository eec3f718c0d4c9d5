"""Scrapy spiders and components: glue between the network and crawler's stages, no business rules."""
