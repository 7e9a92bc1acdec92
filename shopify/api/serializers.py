from rest_framework import serializers


class ShopifyWebhookReceiptSerializer(serializers.Serializer):
    received = serializers.BooleanField()
    duplicate = serializers.BooleanField()
    state = serializers.CharField()
    id = serializers.IntegerField(allow_null=True)
