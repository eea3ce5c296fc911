"""cirahub.connectors"""
